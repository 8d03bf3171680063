"""Messages to members outside the app: SMS through a pluggable sender and a durable outbox."""
