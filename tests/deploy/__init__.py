"""Tests of the deployment: the Dockerfile, the Kubernetes manifests, and what they rely on."""
