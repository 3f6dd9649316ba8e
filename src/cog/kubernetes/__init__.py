"""Kubernetes manifests for a model image (`cog kubernetes`) and the probe that runs in it.

`manifests` builds plain dicts (Deployment, Service, HorizontalPodAutoscaler); `keda` the KEDA
ScaledObject of queue mode; `probe` is what the kubelet runs inside the container, and imports
only the standard library and `cog.envvars`.
"""
