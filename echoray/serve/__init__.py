"""Ray Serve plumbing (serve layer): the only package that imports Ray Serve.

``echoray.serve.app:build_app`` turns an ``EchoRayConfig`` into one Serve application.
"""
