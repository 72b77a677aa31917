/// An error from the model: a stable machine-readable ``CodedError/code``, a human message and an
/// optional cause.
///
/// The code travels on the wire (`{ "code": "...", "message": "..." }`) and is decoded back into the
/// same value by clients, so codes are never renamed; new ones may be added at any time, which is why
/// ``ErrorCode`` is an opaque struct rather than an enum.
public typealias ModelError = LayerError<ModelLayer>

/// The model's errors (``ModelError``).
public enum ModelLayer: ErrorLayer {}
