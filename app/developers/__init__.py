"""The developer portal (/developers), the OpenAPI 3.1 document (/openapi.json) and its reference
page, and the demo's sandbox registration for test apps."""
