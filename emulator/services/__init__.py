"""The rules: keyword-only functions over a session, shared by both API generations."""
