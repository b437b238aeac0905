"""The checks. Each is a package with a pure core and a click command; ``lr_ci._registry`` lists them."""
