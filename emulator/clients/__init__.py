"""Python clients: the vendor's /api generation (api), /vodencoding/v1 (v1), the response models
both read (models) and the emulator's control API (control). They work against the real service
too (but control). `emulator.client`, `emulator.client_v1`, `emulator.client_models` and
`emulator.control_client` remain as the import paths users write."""
