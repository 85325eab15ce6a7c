"""A simulator of notification campaigns: users, messages, and deliveries that get lost or opened."""
