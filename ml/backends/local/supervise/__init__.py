"""One supervisord per local endpoint: its config, its control socket, the health checker, the group killer."""
