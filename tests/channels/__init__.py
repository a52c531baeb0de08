"""Channel adapter tests: real protocols on local free ports."""
