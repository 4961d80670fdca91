"""Kafka adapters: the topic definition, client settings and the publisher."""
