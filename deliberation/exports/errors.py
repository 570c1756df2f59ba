from deliberation.errors import DomainError


class ExportError(DomainError):
    """An export that cannot be made as asked; nothing was written."""
