from lr_ci._entry import main

main()
