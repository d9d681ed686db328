"""Kubernetes ``Status`` errors with the texts the real kube-apiserver uses."""

from __future__ import annotations

import json

CONFLICT_MODIFIED = 'the object has been modified; please apply your changes to the latest version and try again'


def go_value(value) -> str:
    """Format a value the way k8s.io/apimachinery field errors print it."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if value is None:
        return 'null'
    return json.dumps(value, separators=(',', ':'), sort_keys=True)


class FieldError:
    """One ``field.Error`` (type, path, value, detail)."""

    REASONS = {
        'Invalid': 'FieldValueInvalid',
        'TypeInvalid': 'FieldValueTypeInvalid',
        'Required': 'FieldValueRequired',
        'NotSupported': 'FieldValueNotSupported',
        'TooLong': 'FieldValueTooLong',
        'TooMany': 'FieldValueTooMany',
        'Forbidden': 'FieldValueForbidden',
        'Duplicate': 'FieldValueDuplicate',
    }

    def __init__(self, etype: str, field: str, value=None, detail: str = '', supported=None, limit=None):
        self.etype = etype
        self.field = field
        self.value = value
        self.detail = detail
        self.supported = supported
        self.limit = limit

    def body(self) -> str:
        """The error text without the field path (``ErrorBody``)."""
        if self.etype == 'Required':
            text = 'Required value'
        elif self.etype == 'Forbidden':
            text = 'Forbidden'
        elif self.etype == 'NotSupported':
            text = f'Unsupported value: {go_value(self.value)}'
            if self.supported:
                text += ': supported values: ' + ', '.join(json.dumps(str(v)) for v in self.supported)
            return text
        elif self.etype == 'TooLong':
            return f'Too long: may not be more than {self.limit} bytes'
        elif self.etype == 'TooMany':
            return f'Too many: {go_value(self.value)}: must have at most {self.limit} items'
        elif self.etype == 'Duplicate':
            text = f'Duplicate value: {go_value(self.value)}'
        else:
            text = f'Invalid value: {go_value(self.value)}'
        if self.detail:
            text += ': ' + self.detail
        return text

    def __str__(self) -> str:
        return f'{self.field}: {self.body()}' if self.field else self.body()

    def cause(self) -> dict:
        return {'reason': self.REASONS.get(self.etype, 'FieldValueInvalid'), 'message': self.body(), 'field': self.field}


class ApiError(Exception):
    """An error answered as a ``Status`` object."""

    def __init__(self, code: int, reason: str, message: str, details: dict | None = None, headers: dict | None = None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self) -> dict:
        body = {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure', 'message': self.message}
        if self.reason:
            body['reason'] = self.reason
        if self.details is not None:
            body['details'] = self.details
        body['code'] = self.code
        return body


def _details(group: str, plural: str, name: str, **extra) -> dict:
    details = {}
    if name:
        details['name'] = name
    if group:
        details['group'] = group
    if plural:
        details['kind'] = plural
    details.update(extra)
    return details


def qualified(group: str, plural: str) -> str:
    return f'{plural}.{group}' if group else plural


def not_found(group: str, plural: str, name: str) -> ApiError:
    return ApiError(404, 'NotFound', f'{qualified(group, plural)} "{name}" not found', _details(group, plural, name))


def already_exists(group: str, plural: str, name: str) -> ApiError:
    return ApiError(409, 'AlreadyExists', f'{qualified(group, plural)} "{name}" already exists', _details(group, plural, name))


def conflict(group: str, plural: str, name: str, detail: str = CONFLICT_MODIFIED) -> ApiError:
    msg = f'Operation cannot be fulfilled on {qualified(group, plural)} "{name}": {detail}'
    return ApiError(409, 'Conflict', msg, _details(group, plural, name))


def forbidden(group: str, plural: str, name: str, detail: str) -> ApiError:
    return ApiError(403, 'Forbidden', f'{qualified(group, plural)} "{name}" is forbidden: {detail}', _details(group, plural, name))


def aggregate(errors) -> str:
    texts = []
    for err in errors:
        text = str(err)
        if text not in texts:
            texts.append(text)
    return texts[0] if len(texts) == 1 else '[' + ', '.join(texts) + ']'


def invalid(kind: str, group: str, name: str, errors: list) -> ApiError:
    """422 Invalid; ``kind`` is the Kind (``errors.NewInvalid`` takes a GroupKind)."""
    group_kind = f'{kind}.{group}' if group else kind
    msg = f'{group_kind} "{name}" is invalid: {aggregate(errors)}'
    details = {}
    if name:
        details['name'] = name
    if group:
        details['group'] = group
    details['kind'] = kind
    details['causes'] = [err.cause() for err in errors]
    return ApiError(422, 'Invalid', msg, details)


def bad_request(message: str) -> ApiError:
    return ApiError(400, 'BadRequest', message)


def resource_not_found() -> ApiError:
    return ApiError(404, 'NotFound', 'the server could not find the requested resource', {})


def method_not_allowed(message: str = 'the server does not allow this method on the requested resource') -> ApiError:
    return ApiError(405, 'MethodNotAllowed', message, {})


def unsupported_media_type(accepted) -> ApiError:
    msg = 'the body of the request was in an unknown format - accepted media types include: ' + ', '.join(accepted)
    return ApiError(415, 'UnsupportedMediaType', msg)


def unauthorized() -> ApiError:
    return ApiError(401, 'Unauthorized', 'Unauthorized')


def unprocessable_patch(message: str) -> ApiError:
    """What the apiserver answers when a JSON patch cannot be applied (``NewGenericServerResponse(422, ...)``)."""
    details = {'causes': [{'reason': 'UnexpectedServerResponse', 'message': message}]}
    return ApiError(422, 'Invalid', 'the server rejected our request due to an error in our request', details)


def internal_error(message: str) -> ApiError:
    return ApiError(500, 'InternalError', f'Internal error occurred: {message}', {'causes': [{'message': message}]})
