// Command walframes counts what a SQLite database's commits write to its
// write-ahead log, page by page, while a server runs on it: how many frames
// each commit holds, which B-tree each frame's page belongs to, and how many
// messages each commit inserted. It is a measuring tool for
// docs/benchmarks.md, not part of Hookbridge.
//
//	go run ./docs/bounds/walframes -wal /path/hookbridge.db-wal -for 10s
//
// SQLite starts the log over after each checkpoint, which under load comes
// many times a second, so the tool reads the whole file every -every and
// keeps, for each generation of the log (its salt), the longest run of
// frames whose checksums hold. Generations that began or ended between two
// reads are counted in part, which is why it reports per commit, not totals.
//
// A page is named by its kind and the shape of its first cell's key: each
// text value by its prefix up to the first '_' (Hookbridge's ids: app_,
// ep_, msg_, …), each integer as i. "index app_,msg_,i" is the leaf of an
// index on (app_id, msg_id) and the row's rowid: messages_app_id.
// Interior pages of tables carry no key and are counted together.
package main

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

func main() {
	wal := flag.String("wal", "", "the database's -wal file")
	every := flag.Duration("every", 50*time.Millisecond, "how often to read the log")
	span := flag.Duration("for", 10*time.Second, "how long to read it")
	rows := flag.String("rows", "msg_", "report how many rows each commit inserted into the table whose rows' first column begins with this")
	flag.Parse()
	if *wal == "" {
		fmt.Fprintln(os.Stderr, "walframes: -wal is required")
		os.Exit(2)
	}

	// Each generation's longest valid run of commits is counted once a
	// newer generation has begun, or at the end.
	t := tally{byShape: map[string]int{}}
	var (
		gen  [2]uint32 // the salt of the generation being read
		best []commit  // its longest run so far
	)
	for end := time.Now().Add(*span); time.Now().Before(end); time.Sleep(*every) {
		b, err := os.ReadFile(*wal)
		if err != nil {
			fmt.Fprintln(os.Stderr, "walframes:", err)
			os.Exit(1)
		}
		salt, commits, err := parse(b)
		if err != nil {
			continue // an empty log, or one being started over
		}
		if salt != gen {
			if best != nil {
				t.add(best, *rows)
			}
			gen, best = salt, nil
		}
		if len(commits) > len(best) {
			best = commits
		}
	}
	if best != nil {
		t.add(best, *rows)
	}
	if t.commits == 0 {
		fmt.Fprintln(os.Stderr, "walframes: no commits seen")
		os.Exit(1)
	}
	fmt.Printf("%d generations, %d commits, %.1f frames per commit\n", t.generations, t.commits, float64(t.frames)/float64(t.commits))
	if t.rows > 0 {
		fmt.Printf("%.2f %s rows per commit (over %d commits), %.2f frames per row\n",
			t.rowsPerCommit(), *rows, t.counted, float64(t.countedFrames)/float64(t.rows))
	}
	shapes := make([]string, 0, len(t.byShape))
	for s := range t.byShape {
		shapes = append(shapes, s)
	}
	slices.SortFunc(shapes, func(a, b string) int {
		return cmp.Or(cmp.Compare(t.byShape[b], t.byShape[a]), strings.Compare(a, b))
	})
	for _, s := range shapes {
		fmt.Printf("%7.2f  %s\n", float64(t.byShape[s])/float64(t.commits), s)
	}
}

// tally adds up the commits of the log's generations.
type tally struct {
	generations, commits, frames int
	byShape                      map[string]int // frames by their page's shape
	// Of the commits after the first one in its generation that writes
	// the counted table (whose rowids they are measured from): how many,
	// their frames, and the rows they inserted.
	counted, countedFrames, rows int
}

// add counts one generation's commits; prefix names the table whose rows
// are counted.
func (t *tally) add(commits []commit, prefix string) {
	t.generations++
	last := int64(-1) // the table's largest rowid so far; -1 until seen
	for _, c := range commits {
		t.commits++
		t.frames += len(c.pages)
		for _, p := range c.pages {
			t.byShape[shape(p)]++
		}
		// Rows inserted: how far the table's largest rowid moved, zero
		// in a commit that does not write the table.
		top := maxRowid(c.pages, prefix)
		if last >= 0 {
			t.counted++
			t.countedFrames += len(c.pages)
			if top > last {
				t.rows += int(top - last)
			}
		}
		last = max(last, top)
	}
}

func (t *tally) rowsPerCommit() float64 { return float64(t.rows) / float64(t.counted) }

// A commit is the pages of its frames, in the order they were logged.
type commit struct{ pages []page }

// A page is a frame's page and its number.
type page struct {
	no   uint32
	data []byte
}

// parse reads a log: its salt, and its complete commits whose frames carry
// that salt and a valid running checksum (SQLite's own test of which frames
// count).
func parse(b []byte) (salt [2]uint32, commits []commit, err error) {
	const hdr, fhdr = 32, 24
	if len(b) < hdr {
		return salt, nil, errors.New("short log")
	}
	magic := binary.BigEndian.Uint32(b[0:])
	if magic&^1 != 0x377f0682 {
		return salt, nil, errors.New("not a WAL file")
	}
	var order binary.ByteOrder = binary.LittleEndian
	if magic&1 == 1 {
		order = binary.BigEndian
	}
	pageSize := int(binary.BigEndian.Uint32(b[8:]))
	salt = [2]uint32{binary.BigEndian.Uint32(b[16:]), binary.BigEndian.Uint32(b[20:])}
	s1, s2 := checksum(order, b[:24], 0, 0)
	if s1 != binary.BigEndian.Uint32(b[24:]) || s2 != binary.BigEndian.Uint32(b[28:]) {
		return salt, nil, errors.New("header checksum")
	}
	var cur commit
	for off := hdr; off+fhdr+pageSize <= len(b); off += fhdr + pageSize {
		f := b[off : off+fhdr+pageSize]
		if binary.BigEndian.Uint32(f[8:]) != salt[0] || binary.BigEndian.Uint32(f[12:]) != salt[1] {
			break
		}
		s1, s2 = checksum(order, f[:8], s1, s2)
		s1, s2 = checksum(order, f[fhdr:], s1, s2)
		if s1 != binary.BigEndian.Uint32(f[16:]) || s2 != binary.BigEndian.Uint32(f[20:]) {
			break
		}
		cur.pages = append(cur.pages, page{binary.BigEndian.Uint32(f[0:]), f[fhdr:]})
		if binary.BigEndian.Uint32(f[4:]) != 0 { // the commit's last frame
			commits = append(commits, cur)
			cur = commit{}
		}
	}
	return salt, commits, nil
}

// checksum continues SQLite's WAL checksum over b.
func checksum(order binary.ByteOrder, b []byte, s1, s2 uint32) (uint32, uint32) {
	for i := 0; i+8 <= len(b); i += 8 {
		s1 += order.Uint32(b[i:]) + s2
		s2 += order.Uint32(b[i+4:]) + s1
	}
	return s1, s2
}

// B-tree page kinds (the first byte of a page's header).
const (
	indexInterior = 0x02
	tableInterior = 0x05
	indexLeaf     = 0x0a
	tableLeaf     = 0x0d
)

var kinds = map[byte]string{indexInterior: "index interior", tableInterior: "table interior",
	indexLeaf: "index", tableLeaf: "table"}

// shape names a page by its kind and the shape of its first cell's key.
func shape(pg page) string {
	if pg.no == 1 {
		return "page 1 (the database header, the schema's root)"
	}
	p := pg.data
	kind := kinds[p[0]]
	if kind == "" {
		return "other"
	}
	if p[0] == tableInterior {
		return kind
	}
	cells := cellPointers(p)
	if len(cells) == 0 {
		return kind + " (empty)"
	}
	vals := record(p, cells[0])
	parts := make([]string, len(vals))
	for i, v := range vals {
		switch v := v.(type) {
		case string:
			if j := strings.IndexByte(v, '_'); j > 0 {
				parts[i] = v[:j+1]
			} else {
				parts[i] = "s"
			}
		case int64:
			parts[i] = "i"
		default:
			parts[i] = "-"
		}
	}
	if kind == "table" && len(parts) > 4 {
		parts = append(parts[:4], "…") // a row's first columns name its table
	}
	return kind + " " + strings.Join(parts, ",")
}

// cellPointers returns the offsets of p's cells.
func cellPointers(p []byte) []int {
	n := int(binary.BigEndian.Uint16(p[3:]))
	at := 8
	if p[0] == indexInterior || p[0] == tableInterior {
		at = 12
	}
	cells := make([]int, 0, n)
	for i := range n {
		if at+2*i+2 > len(p) {
			break
		}
		cells = append(cells, int(binary.BigEndian.Uint16(p[at+2*i:])))
	}
	return cells
}

// maxRowid is the largest rowid on the table leaves among pages whose
// first column starts with prefix, or -1 if there are none.
func maxRowid(pages []page, prefix string) int64 {
	top := int64(-1)
	for _, pg := range pages {
		p := pg.data
		if pg.no == 1 || p[0] != tableLeaf {
			continue
		}
		cells := cellPointers(p)
		if len(cells) == 0 {
			continue
		}
		if v, ok := record(p, cells[0])[0].(string); !ok || !strings.HasPrefix(v, prefix) {
			continue
		}
		for _, c := range cells {
			_, n := uvarint(p[c:])       // payload size
			rowid, _ := uvarint(p[c+n:]) // the rowid
			top = max(top, int64(rowid))
		}
	}
	return top
}

// record decodes the values of the cell at c whose payload lies on the
// page (a value that overflows it ends the list): strings, int64s, and
// nil for anything else. A table leaf's rowid is not among them; an
// index's rowid is its last value.
func record(p []byte, c int) []any {
	i := c
	if p[0] == indexInterior {
		i += 4 // the left child's page number
	}
	_, n := uvarint(p[i:]) // payload size
	i += n
	if p[0] == tableLeaf {
		_, n = uvarint(p[i:]) // rowid
		i += n
	}
	start := i
	hlen, n := uvarint(p[i:])
	i += n
	var types []uint64
	for i < start+int(hlen) && i < len(p) {
		t, n := uvarint(p[i:])
		types = append(types, t)
		i += n
	}
	var vals []any
	body := start + int(hlen)
	for _, t := range types {
		size := 0
		switch {
		case t >= 1 && t <= 6:
			size = []int{0, 1, 2, 3, 4, 6, 8}[t]
		case t == 7:
			size = 8
		case t >= 12:
			size = int(t-12) / 2
		}
		if body+size > len(p) {
			break
		}
		v := p[body : body+size]
		switch {
		case t >= 1 && t <= 6:
			x := int64(0)
			if len(v) > 0 && v[0]&0x80 != 0 {
				x = -1
			}
			for _, c := range v {
				x = x<<8 | int64(c)
			}
			vals = append(vals, x)
		case t == 8 || t == 9:
			vals = append(vals, int64(t-8))
		case t >= 13 && t%2 == 1:
			vals = append(vals, string(bytes.Clone(v)))
		default:
			vals = append(vals, nil)
		}
		body += size
	}
	return vals
}

// uvarint decodes SQLite's big-endian varint at the start of b and its
// length.
func uvarint(b []byte) (uint64, int) {
	var v uint64
	for i := 0; i < 8 && i < len(b); i++ {
		v = v<<7 | uint64(b[i]&0x7f)
		if b[i] < 0x80 {
			return v, i + 1
		}
	}
	if len(b) < 9 {
		return v, len(b)
	}
	return v<<8 | uint64(b[8]), 9
}
