// Package storetest is the conformance suite for hookbridge.Store: one set
// of tests that every storage adapter (sqlite, postgres) runs against
// itself, so that the rest of Hookbridge can rely on the behaviour the Store
// interface documents and on nothing else.
//
// An adapter's test calls Run with a function that opens a new, empty
// store:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) hookbridge.Store {
//			s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "hookbridge.db"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// Run also checks the optional capabilities a store implements
// (hookbridge.Listener, hookbridge.ExclusiveRunner; a store that one
// process owns has neither, and those subtests skip). A store shared by
// several instances also runs RunInstances on two stores of one database,
// and a store that groups concurrent writes into one commit runs
// RunGroupCommit with the hooks that hold its queue (GroupCommit).
//
// The suite tests documented behaviour only. Where the contract leaves a
// choice open it accepts every choice: nil and empty slices and maps compare
// equal, JSON compares by value, and a lookup across applications may fail
// with ENOTFOUND or come back empty. Times are fixed (the suite passes "now"
// in), so the tests neither sleep nor depend on the machine's clock, apart
// from UpdatedAt being set to the store's own now.
package storetest
