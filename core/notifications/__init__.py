"""Who is told what: domain-event handlers that write outbound mail (core/outbox) and in-app
notification rows, and the in-app notification service."""
