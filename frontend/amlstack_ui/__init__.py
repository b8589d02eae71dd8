"""amlstack UI: a server-rendered front end to the scorer and the stack's Prometheus."""
