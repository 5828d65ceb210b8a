package provisioning_test

import (
	"sync"
	"testing"
	"time"

	"github.com/seatbridge/seatbridge/provisioning"
	"github.com/seatbridge/seatbridge/store"
	"github.com/seatbridge/seatbridge/store/storetest"
)

// TestProvisioningLogRecordsAcrossClose: requests still running when the server stops (a
// shutdown timeout cuts them after the workers stopped) call Record while or after the log
// closes. None may panic on a closed channel or race with Close, and none is lost.
func TestProvisioningLogRecordsAcrossClose(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, 5)
		eng := provisioning.NewEngine(db, nil)
		pl, err := provisioning.NewProvisioningLog(eng, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		const n = 40
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if i == n/2 {
					pl.Close()
				}
				pl.Record(provisioning.ProvisioningLogEntry{TenantID: f.tenant.ID, At: time.Now(), Method: "GET", Path: "/Users", Status: 200})
			}()
		}
		wg.Wait()
		pl.Close()
		got, err := eng.ListProvisioningLog(f.ctx, f.tenant.ID, provisioning.ProvisioningLogQuery{Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != n {
			t.Fatalf("%d entries in the log, want %d", len(got), n)
		}
	})
}
