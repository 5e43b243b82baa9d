package softkey

import "errors"

// ErrModelMismatch is matched (errors.Is) by Open's error for a state file
// that holds a key of another model than Config asks for.
var ErrModelMismatch = errors.New("softkey: the state file holds a key of another model")

// modelMismatchError is that error, with the file and both models in its
// message.
type modelMismatchError struct{ msg string }

func (e *modelMismatchError) Error() string   { return e.msg }
func (e *modelMismatchError) Is(t error) bool { return t == ErrModelMismatch }
