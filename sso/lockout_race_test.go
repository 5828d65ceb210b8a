package sso_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/sso"
	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

// TestLockoutHoldsAgainstConcurrentGuesses: the lockout was checked only before the
// (deliberately slow) password hash, so a burst of concurrent guesses all passed it and
// were all evaluated, and a right password among them signed in after dozens of recorded
// failures. Each attempt now looks at the lock again once its hash is known: a burst buys
// no more wrong answers than the policy's failures, and a right password that arrives
// when the account is locked gets the same locked answer as a wrong one.
func TestLockoutHoldsAgainstConcurrentGuesses(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		log, _, acc, tn := newPasswordDoor(t, db, nil)
		// Slow enough that every attempt of a burst reads the account before the first
		// hash ends, as with production parameters.
		acc.Password = provisioning.PasswordParams{Time: 2, MemoryKiB: 32 * 1024, Threads: 1}
		const pw = "violet kayak thunder harbour"
		for _, e := range []string{"one@example.com", "two@example.com"} {
			if _, _, err := acc.CreateLocalUser(ctx, admin, tn.ID, provisioning.LocalUserRequest{Email: e, DisplayName: e, Seat: true, Password: pw}); err != nil {
				t.Fatal(err)
			}
		}
		mux := http.NewServeMux()
		pagesMux(t, mux, acc, log, sso.Config{AttemptsPerSecond: 1000, AttemptsBurst: 1000}, nil)
		srv := httptest.NewServer(mux)
		defer srv.Close()
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		type answer struct {
			status  int
			session bool
			body    string
		}
		attempt := func(email, password string) answer {
			resp, err := client.PostForm(srv.URL+"/login/acme", url.Values{"email": {email}, "password": {password}})
			if err != nil {
				t.Error(err)
				return answer{}
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			a := answer{status: resp.StatusCode, body: string(b)}
			for _, c := range resp.Cookies() {
				a.session = a.session || (c.Name == sso.SessionCookie && c.Value != "")
			}
			return a
		}
		burst := func(email string, passwords []string) []answer {
			out := make([]answer, len(passwords))
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i, p := range passwords {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					out[i] = attempt(email, p)
				}()
			}
			close(start)
			wg.Wait()
			return out
		}
		const wrongMsg, lockedMsg = "password is wrong", "Too many failed attempts"
		max := acc.Lockout.MaxFailures

		var guesses []string
		for i := range 12 {
			guesses = append(guesses, fmt.Sprintf("wrong guess number %d", i))
		}
		wrong := 0
		for _, a := range burst("one@example.com", guesses) {
			switch {
			case a.session:
				t.Fatal("a wrong password signed in")
			case strings.Contains(a.body, wrongMsg):
				wrong++
			case !strings.Contains(a.body, lockedMsg):
				t.Fatalf("unexpected answer %d: %.300s", a.status, a.body)
			}
		}
		if wrong > max {
			t.Errorf("%d concurrent wrong guesses were evaluated, the policy allows %d", wrong, max)
		}
		if a := attempt("one@example.com", pw); a.session || !strings.Contains(a.body, lockedMsg) {
			t.Errorf("right password after the burst: %d session=%v", a.status, a.session)
		}

		// The right password hidden in a burst: it may sign in only as one of the first
		// guesses; otherwise its answer is the locked one, never distinguishable, and the
		// burst got no more wrong answers than the policy allows.
		guesses = append(guesses[:11:11], pw)
		wrong = 0
		answers := burst("two@example.com", guesses)
		for _, a := range answers[:11] {
			if strings.Contains(a.body, wrongMsg) {
				wrong++
			}
		}
		// A right password that signs in resets the count (the guesser has won anyway).
		if right := answers[11]; !right.session {
			if !strings.Contains(right.body, lockedMsg) {
				t.Errorf("right password refused with something else than the lockout: %d %.300s", right.status, right.body)
			}
			if wrong > max {
				t.Errorf("%d concurrent wrong guesses were evaluated, the policy allows %d", wrong, max)
			}
		}
	})
}

// TestSecondFactorLockoutHoldsAgainstConcurrentCodes: the same race on the second factor.
// Its lockout was checked before the transaction that checks the code, and a wrong code
// was counted in another one after it, so a burst of concurrent codes on one ticket was
// evaluated beyond the policy's failures (a 6-digit code, guessed in bursts). The lock is
// now checked and a wrong code counted in the transaction that checks the code.
func TestSecondFactorLockoutHoldsAgainstConcurrentCodes(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		log, _, acc, tn := newPasswordDoor(t, db, nil)
		const pw = "violet kayak thunder harbour"
		u, _, err := acc.CreateLocalUser(ctx, admin, tn.ID, provisioning.LocalUserRequest{Email: "one@example.com", DisplayName: "One", Seat: true, Password: pw})
		if err != nil {
			t.Fatal(err)
		}
		en, err := acc.BeginTOTP(ctx, tn.ID, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		code, _ := totp.GenerateCode(en.Secret, time.Now())
		if _, err := acc.ConfirmTOTP(ctx, admin, tn.ID, u.ID, code); err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		pagesMux(t, mux, acc, log, sso.Config{AttemptsPerSecond: 1000, AttemptsBurst: 1000}, nil)
		srv := httptest.NewServer(mux)
		defer srv.Close()
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.PostForm(srv.URL+"/login/acme", url.Values{"email": {"one@example.com"}, "password": {pw}})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := regexp.MustCompile(`name="ticket" value="([^"]+)"`).FindStringSubmatch(string(b))
		if m == nil {
			t.Fatalf("no second-factor step: %d %.300s", resp.StatusCode, b)
		}
		ticket := m[1]
		right, _ := totp.GenerateCode(en.Secret, time.Now())
		const n = 40
		var mu sync.Mutex
		wrong := 0
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				c := fmt.Sprintf("%06d", (i*7919+13)%1000000)
				if c == right {
					c = "999999"
				}
				resp, err := client.PostForm(srv.URL+"/login/acme/2fa", url.Values{"ticket": {ticket}, "code": {c}})
				if err != nil {
					t.Error(err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				mu.Lock()
				defer mu.Unlock()
				for _, ck := range resp.Cookies() {
					if ck.Name == sso.SessionCookie && ck.Value != "" {
						t.Error("a wrong code signed in")
					}
				}
				if strings.Contains(string(b), "code is wrong") {
					wrong++
				}
			}()
		}
		close(start)
		wg.Wait()
		if max := acc.Lockout.MaxFailures; wrong > max {
			t.Errorf("%d concurrent wrong codes were evaluated, the policy allows %d", wrong, max)
		}
		resp, err = client.PostForm(srv.URL+"/login/acme/2fa", url.Values{"ticket": {ticket}, "code": {right}})
		if err != nil {
			t.Fatal(err)
		}
		b, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), "Too many failed attempts") {
			t.Errorf("right code after the burst: %d %.300s", resp.StatusCode, b)
		}
	})
}
