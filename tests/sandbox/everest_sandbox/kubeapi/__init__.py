"""Kubernetes API emulator (see ``server.KubeApiServer``)."""
