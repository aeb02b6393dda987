"""The example lab's configuration (TOML files in this folder), installed as `labd.config` so that labd runs
on the simulated lab from any folder. `labd init DIR` writes a starter configuration for a real lab."""
