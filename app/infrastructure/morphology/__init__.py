"""Korean morphology for keyword search: Kiwi's analyser when installed, hand-written rules else."""
