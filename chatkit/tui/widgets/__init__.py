"""The terminal client's widgets: each shows part of the state and posts what the user asks for."""
