"""What a provider is, below the agent CLIs: its faults classified from a CLI's signals (the
fault tables), the stream watched for them, the token prices and the spend arithmetic."""
