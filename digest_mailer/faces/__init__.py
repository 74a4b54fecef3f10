"""The faces: CLI, Huey tasks, web, demo. They parse input, call a service, present."""
