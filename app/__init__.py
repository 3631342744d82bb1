"""eco2 chat worker: the back end of a recycling and waste-disposal assistant for Korea."""
