"""Use cases and policies over ports; imports no SDK, transport or framework."""
