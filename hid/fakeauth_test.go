package hid_test

import (
	"context"
	"sync"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// fakeAuth is a minimal CTAP2 authenticator: it answers getInfo with a
// canned, complete response, can be slowed down (sending keepalives and
// honouring cancel), and can be told to answer commands with given bytes.
type fakeAuth struct {
	mu          sync.Mutex
	delay       time.Duration // before answering any command
	ignoreCtx   bool          // keep sleeping through CTAPHID_CANCEL
	responses   map[byte][]byte
	commands    []byte
	failGetInfo bool
	waiting     chan struct{} // receives when a delayed command starts waiting
}

// waitingSignal returns a channel that receives each time the key starts
// to wait before a delayed answer: tests cancel or close while it waits,
// without guessing when.
func (f *fakeAuth) waitingSignal() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.waiting == nil {
		f.waiting = make(chan struct{}, 1)
	}
	return f.waiting
}

func (f *fakeAuth) setDelay(d time.Duration, ignoreCtx bool) {
	f.mu.Lock()
	f.delay, f.ignoreCtx = d, ignoreCtx
	f.mu.Unlock()
}

func (f *fakeAuth) setResponse(cmd byte, resp []byte) {
	f.mu.Lock()
	if f.responses == nil {
		f.responses = map[byte][]byte{}
	}
	f.responses[cmd] = resp
	f.mu.Unlock()
}

func (f *fakeAuth) Wink() {}

func (f *fakeAuth) HandleCBOR(ctx context.Context, msg []byte, keepalive func(byte)) []byte {
	f.mu.Lock()
	delay, ignore := f.delay, f.ignoreCtx
	resp, canned := f.responses[msg[0]]
	failInfo := f.failGetInfo
	waiting := f.waiting
	f.commands = append(f.commands, msg[0])
	f.mu.Unlock()
	if delay > 0 {
		keepalive(2) // UPNEEDED
		if waiting != nil {
			select {
			case waiting <- struct{}{}:
			default:
			}
		}
		t := time.NewTimer(delay)
		defer t.Stop()
		if ignore {
			<-t.C
		} else {
			select {
			case <-t.C:
			case <-ctx.Done():
				return []byte{0x2d}
			}
		}
	}
	if canned {
		return append([]byte(nil), resp...)
	}
	if msg[0] == 0x04 && !failInfo {
		return append([]byte{0}, fakeInfoCBOR...)
	}
	return []byte{0x01} // INVALID_COMMAND
}

var fakeAAGUID = [16]byte{0x6b, 0x65, 0x79, 0x70, 0x72, 0x65, 0x70, 0x2d, 0x74, 0x65, 0x73, 0x74, 0x2d, 0x6b, 0x65, 0x79}

var fakeInfoCBOR = mustCanonical(map[int]any{
	1:  []string{"FIDO_2_0", "FIDO_2_1"},
	2:  []string{"credProtect", "hmac-secret", "minPinLength"},
	3:  fakeAAGUID[:],
	4:  map[string]bool{"rk": true, "up": true, "clientPin": false, "credMgmt": true, "setMinPINLength": true, "alwaysUv": false},
	5:  1200,
	6:  []int{2, 1},
	7:  8,
	8:  128,
	9:  []string{"usb"},
	10: []map[string]any{{"alg": -7, "type": "public-key"}, {"alg": -257, "type": "public-key"}},
	11: 1024,
	12: true,
	13: 6,
	14: 0x010203,
	15: 32,
	16: 2,
	17: 8,
	18: 4,
	19: map[string]int{"FIDO": 2},
	20: 25,
})

func mustCanonical(v any) []byte {
	em, err := cbor.CTAP2EncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	b, err := em.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
