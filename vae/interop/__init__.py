"""Models from elsewhere and to elsewhere: state dicts read without running code (weights), their
layouts (layouts), the import into the store (importer) and the export as ONNX and plain tensors
(export). May import store, models, data and limits."""
