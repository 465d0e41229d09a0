// Command tlogcheck checks Consentry's published audit log with Go's own transparency-log code,
// golang.org/x/mod/sumdb/note and golang.org/x/mod/sumdb/tlog (the code behind sum.golang.org).
// Nobody on the project wrote those packages: this file is only glue (HTTP, the C2SP checkpoint
// body, C2SP tile paths). Every signature, hash and proof is checked by x/mod.
//
//	tlogcheck -url http://host:port -key 'origin+hash+base64' [-old note-file] [-leaves 0,5,9]
//
// It prints one line of JSON and exits 1 on any failure (2 on bad arguments).
package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// tileHeight is fixed by C2SP tlog-tiles (256 hashes per tile); sumdb uses the same height.
const tileHeight = 8

type result struct {
	OK         bool   `json:"ok"`
	Origin     string `json:"origin,omitempty"`
	Size       int64  `json:"size"`
	Root       string `json:"root,omitempty"`
	Proven     int    `json:"leaves_proven"`
	Consistent *int64 `json:"consistent_with,omitempty"`
	Fetches    int    `json:"tile_fetches"`
	Error      string `json:"error,omitempty"`
}

func main() {
	base := flag.String("url", "", "base URL of the log (serves /log/checkpoint and /log/tile/...)")
	key := flag.String("key", "", "the log's note verifier key (/.well-known/consentry-log-key)")
	old := flag.String("old", "", "file with an older signed checkpoint: prove the new tree extends it")
	leaves := flag.String("leaves", "", "comma-separated leaf indexes to prove (default: every leaf)")
	flag.Parse()
	if *base == "" || *key == "" {
		flag.Usage()
		os.Exit(2)
	}
	res := result{}
	err := check(strings.TrimRight(*base, "/"), strings.TrimSpace(*key), *old, *leaves, &res)
	if err != nil {
		res.Error = err.Error()
	}
	res.OK = err == nil
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
	if err != nil {
		os.Exit(1)
	}
}

func check(base, vkey, oldFile, leafList string, res *result) error {
	verifier, err := note.NewVerifier(vkey) // rejects a key string or key hash not per signed-note
	if err != nil {
		return fmt.Errorf("verifier key: %w", err)
	}
	known := note.VerifierList(verifier)
	msg, err := get(base + "/log/checkpoint")
	if err != nil {
		return err
	}
	origin, tree, err := openCheckpoint(msg, known)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	res.Origin, res.Size, res.Root = origin, tree.N, tree.Hash.String()
	if origin != verifier.Name() {
		// C2SP tlog-checkpoint: the key name is the origin; a note by this key for another log
		// would otherwise be taken for ours.
		return fmt.Errorf("checkpoint origin %q is not the key's name %q", origin, verifier.Name())
	}

	tiles := &tileReader{base: base}
	// Hashes come from the tiles through TileHashReader; the glue takes none of them as proof
	// on its own: what binds each leaf to the signed root below is tlog.CheckRecord.
	hashes := tlog.TileHashReader(tree, tiles)
	defer func() { res.Fetches = tiles.fetches }()
	root, err := tlog.TreeHash(tree.N, hashes)
	if err != nil {
		return fmt.Errorf("tree hash: %w", err)
	}
	if root != tree.Hash {
		return fmt.Errorf("tiles give root %v, checkpoint says %v", root, tree.Hash)
	}

	indexes, err := leafIndexes(leafList, tree.N)
	if err != nil {
		return err
	}
	for _, n := range indexes {
		// The leaf hash as the level-0 tile holds it (stored hash index of record n); a forged
		// one cannot pass CheckRecord against the signed root without a SHA-256 collision.
		leaf, err := hashes.ReadHashes([]int64{tlog.StoredHashIndex(0, n)})
		if err != nil {
			return fmt.Errorf("leaf %d: %w", n, err)
		}
		proof, err := tlog.ProveRecord(tree.N, n, hashes)
		if err != nil {
			return fmt.Errorf("prove leaf %d: %w", n, err)
		}
		if err := tlog.CheckRecord(proof, tree.N, tree.Hash, n, leaf[0]); err != nil {
			return fmt.Errorf("leaf %d: %w", n, err)
		}
		res.Proven++
	}

	if oldFile != "" {
		oldMsg, err := os.ReadFile(oldFile)
		if err != nil {
			return err
		}
		oldOrigin, oldTree, err := openCheckpoint(oldMsg, known)
		if err != nil {
			return fmt.Errorf("old checkpoint: %w", err)
		}
		if oldOrigin != origin || oldTree.N > tree.N {
			return fmt.Errorf("old checkpoint (%s, %d) cannot precede (%s, %d)", oldOrigin, oldTree.N, origin, tree.N)
		}
		proof, err := tlog.ProveTree(tree.N, oldTree.N, hashes)
		if err != nil {
			return fmt.Errorf("prove consistency: %w", err)
		}
		if err := tlog.CheckTree(proof, tree.N, tree.Hash, oldTree.N, oldTree.Hash); err != nil {
			return fmt.Errorf("consistency with size %d: %w", oldTree.N, err)
		}
		res.Consistent = &oldTree.N
	}
	return nil
}

// openCheckpoint verifies the signed note with x/mod's note.Open, then reads the C2SP body:
// origin, decimal size, base64 root, optional extension lines. tlog.ParseTree cannot be used:
// it expects sumdb's fixed first line "go.sum database tree" where C2SP puts the origin.
func openCheckpoint(msg []byte, known note.Verifiers) (string, tlog.Tree, error) {
	n, err := note.Open(msg, known)
	if err != nil {
		return "", tlog.Tree{}, err
	}
	lines := strings.SplitN(n.Text, "\n", 4)
	if len(lines) < 4 || lines[0] == "" {
		return "", tlog.Tree{}, errors.New("body is not origin, size, root")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || lines[1] != strconv.FormatInt(size, 10) {
		return "", tlog.Tree{}, fmt.Errorf("bad tree size %q", lines[1])
	}
	raw, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(raw) != tlog.HashSize {
		return "", tlog.Tree{}, fmt.Errorf("bad root hash %q", lines[2])
	}
	var root tlog.Hash
	copy(root[:], raw)
	return lines[0], tlog.Tree{N: size, Hash: root}, nil
}

func leafIndexes(list string, size int64) ([]int64, error) {
	var out []int64
	if list == "" {
		for n := int64(0); n < size; n++ {
			out = append(out, n)
		}
		return out, nil
	}
	for _, s := range strings.Split(list, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil || n < 0 || n >= size {
			return nil, fmt.Errorf("leaf %q is not in a tree of size %d", s, size)
		}
		out = append(out, n)
	}
	return out, nil
}

// tileReader is tlog.TileReader over the log's HTTP tiles, fetching each tile once.
type tileReader struct {
	base    string
	cache   map[tlog.Tile][]byte
	fetches int
}

func (r *tileReader) Height() int { return tileHeight }

// c2spPath maps Go's tile path "tile/H/L/NNN[.p/W]" to C2SP's "tile/L/NNN[.p/W]": the same
// N encoding (x-prefixed 3-digit groups) and partial suffix, but C2SP has no height segment
// because its height is always 8.
func c2spPath(t tlog.Tile) string {
	return "tile/" + strings.TrimPrefix(t.Path(), fmt.Sprintf("tile/%d/", t.H))
}

func (r *tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	if r.cache == nil {
		r.cache = map[tlog.Tile][]byte{}
	}
	data := make([][]byte, len(tiles))
	for i, t := range tiles {
		if cached, ok := r.cache[t]; ok {
			data[i] = cached
			continue
		}
		body, err := get(r.base + "/log/" + c2spPath(t))
		if err != nil {
			return nil, err
		}
		if len(body) != t.W*tlog.HashSize { // the TileReader contract; TileHashReader relies on it
			return nil, fmt.Errorf("tile %s: %d bytes, want %d", c2spPath(t), len(body), t.W*tlog.HashSize)
		}
		r.fetches++
		r.cache[t] = body
		data[i] = body
	}
	return data, nil
}

// SaveTiles would persist tiles once TileHashReader has authenticated them; this one-shot
// check keeps nothing between runs.
func (r *tileReader) SaveTiles([]tlog.Tile, [][]byte) {}

var client = &http.Client{Timeout: 30 * time.Second}

func get(url string) ([]byte, error) {
	resp, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return body, nil
}
