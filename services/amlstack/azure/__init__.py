"""Azure ML (SDK v2): plan, push the scorer image, blue/green deploy, AutoML training."""
