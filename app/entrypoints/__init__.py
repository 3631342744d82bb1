"""Entry points: parse the outside world, call a port, render the reply. Wiring only."""
