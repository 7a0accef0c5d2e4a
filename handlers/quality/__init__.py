"""Quality evaluation and subsidies (DOMAIN §10): what the API, the chat and the records share."""
