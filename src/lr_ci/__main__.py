from lr_ci.cli import main

raise SystemExit(main())
