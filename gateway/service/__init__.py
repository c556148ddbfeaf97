"""The app's composition: ``create_app`` builds every long-lived object, mounts the routes and runs the
lifespan that starts and stops the background threads in order.

May import: every room except ``cli``.
"""
