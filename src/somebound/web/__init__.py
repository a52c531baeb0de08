"""somebound.web: the agent inbox and the supervisor pages.

Server-rendered (Jinja2) pages with progressive enhancement: every page and action works
as plain HTML forms; a small script of our own adds live updates (Server-Sent Events),
keyboard shortcuts, canned-answer search and the collision warning.
"""
