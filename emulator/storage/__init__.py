"""Object storage: the boto3 object store every S3 call goes through (store), the URL forms
tasks name objects by (urls), and the embedded moto S3 with its persistence (embedded) behind
the Host and CORS guard (guard)."""
