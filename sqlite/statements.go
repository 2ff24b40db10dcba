package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// stmtID names one of the statements the writer keeps prepared: those of
// the hot path, run thousands of times a second under load, which would
// otherwise be parsed and planned again on every use.
type stmtID int

const (
	stmtSavepoint stmtID = iota
	stmtReleaseSavepoint
	stmtRollbackToSavepoint
	stmtFanOutApplication
	stmtSubscriptions
	stmtMessageByEventID
	stmtInsertMessage
	stmtInsertDelivery
	stmtInsertMessages
	stmtInsertDeliveries
	stmtGatedBudgets
	stmtClaimDeliveries
	stmtClaimByEndpoint
	stmtClaimedMessages
	stmtClaimedEndpoints
	stmtFinishAttempts
	stmtInsertAttempt
	stmtFinishFirstAttempt
	stmtRenewLeases
	stmtReleaseDeliveries
	stmtMessageTaken
	stmtLogMessage
	stmtLogDelivery
	stmtLogFirstAttempt
	numStmts
)

// stmtSQL is the text of each prepared statement. The queries live next to
// the code that runs them; the savepoint statements belong to the writer.
var stmtSQL = [numStmts]string{
	stmtSavepoint:           `SAVEPOINT grouped_write`,
	stmtReleaseSavepoint:    `RELEASE grouped_write`,
	stmtRollbackToSavepoint: `ROLLBACK TO grouped_write`,
	stmtFanOutApplication:   fanOutApplication,
	stmtSubscriptions:       selectSubscriptions,
	stmtMessageByEventID:    messageByEventID,
	stmtInsertMessage:       insertMessage,
	stmtInsertDelivery:      insertDelivery,
	stmtInsertMessages:      insertMessages,
	stmtInsertDeliveries:    insertDeliveries,
	stmtGatedBudgets:        gatedBudgets,
	stmtClaimDeliveries:     claimDeliveries,
	stmtClaimByEndpoint:     claimByEndpoint,
	stmtClaimedMessages:     claimedMessages,
	stmtClaimedEndpoints:    claimedEndpoints,
	stmtFinishAttempts:      finishAttempts,
	stmtInsertAttempt:       insertAttempt,
	stmtFinishFirstAttempt:  finishFirstAttempt,
	stmtRenewLeases:         renewLeases,
	stmtReleaseDeliveries:   releaseDeliveries,
	stmtMessageTaken:        messageTaken,
	stmtLogMessage:          logMessage,
	stmtLogDelivery:         logDelivery,
	stmtLogFirstAttempt:     logFirstAttempt,
}

// statements are the prepared statements of the writer connection.
type statements struct {
	byID [numStmts]*sql.Stmt
}

// prepareStatements prepares every statement of stmtSQL on db. The schema
// must be migrated first, since preparing a statement checks its tables.
func prepareStatements(ctx context.Context, db *sql.DB) (*statements, error) {
	st := &statements{}
	for id, query := range stmtSQL {
		s, err := db.PrepareContext(ctx, query)
		if err != nil {
			st.close()
			return nil, fmt.Errorf("prepare %q: %w", query, err)
		}
		st.byID[id] = s
	}
	return st, nil
}

// readStatements are the prepared statements of the read pool: the reads
// every accepted message makes. database/sql prepares each on a connection
// of the pool the first time it runs there, and reuses it afterwards.
type readStatements struct {
	applicationByID  *sql.Stmt
	applicationByUID *sql.Stmt
	idempotentRecord *sql.Stmt // with Svix SDKs, every accepted message's
}

func prepareReadStatements(ctx context.Context, db *sql.DB) (*readStatements, error) {
	var (
		rs  readStatements
		err error
	)
	if rs.applicationByID, err = db.PrepareContext(ctx, getApplicationByID); err != nil {
		return nil, fmt.Errorf("prepare %q: %w", getApplicationByID, err)
	}
	if rs.applicationByUID, err = db.PrepareContext(ctx, getApplicationByUID); err != nil {
		rs.applicationByID.Close()
		return nil, fmt.Errorf("prepare %q: %w", getApplicationByUID, err)
	}
	if rs.idempotentRecord, err = db.PrepareContext(ctx, readIdempotent); err != nil {
		rs.applicationByID.Close()
		rs.applicationByUID.Close()
		return nil, fmt.Errorf("prepare %q: %w", readIdempotent, err)
	}
	return &rs, nil
}

func (rs *readStatements) close() error {
	return errors.Join(rs.applicationByID.Close(), rs.applicationByUID.Close(), rs.idempotentRecord.Close())
}

func (st *statements) close() error {
	var errs []error
	for _, s := range st.byID {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	return errors.Join(errs...)
}
