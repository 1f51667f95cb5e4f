package devcluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The local registry (crane's) keeps blobs on disk but manifests only in
// memory. A journal of the tagged manifests, written before the registry
// stops and replayed when it starts, keeps every image across `down`/`up`
// without copying a blob.
func manifestJournal() string { return filepath.Join(registryDir(), "manifests.json") }

type journalEntry struct {
	Repo      string          `json:"repo"`
	Tag       string          `json:"tag"`
	MediaType types.MediaType `json:"mediaType"`
	Manifest  []byte          `json:"manifest"`
}

// saveRegistry writes the journal of every tagged manifest in the registry
// whose blobs are in dir (see registryDirOf).
func saveRegistry(ctx context.Context, dir string) error {
	reg, err := name.NewRegistry(RegistryAddr, name.Insecure)
	if err != nil {
		return err
	}
	repos, err := remote.Catalog(ctx, reg)
	if err != nil {
		return fmt.Errorf("listing the registry: %w", err)
	}
	var entries []journalEntry
	for _, r := range repos {
		repo := reg.Repo(r)
		tags, err := remote.List(repo, remote.WithContext(ctx))
		if err != nil {
			return err
		}
		for _, tag := range tags {
			desc, err := remote.Get(repo.Tag(tag), remote.WithContext(ctx))
			if err != nil {
				return err
			}
			entries = append(entries, journalEntry{Repo: r, Tag: tag, MediaType: desc.MediaType, Manifest: desc.Manifest})
		}
	}
	data, err := json.Marshal(entries)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	journal := filepath.Join(dir, "manifests.json")
	tmp := journal + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, journal)
}

// registryDirOf is the registry directory the cluster at l was started
// with: `down` may run with another $CSCLR_CACHE than `up` did, and must not
// write one cache's journal over another's.
func registryDirOf(l layout) string {
	if data, err := os.ReadFile(l.registryDirFile()); err == nil && len(data) > 0 {
		return strings.TrimSpace(string(data))
	}
	return registryDir()
}

// restoreRegistry puts the journal's manifests back: image manifests first,
// then the indexes that refer to them.
func restoreRegistry(ctx context.Context) error {
	data, err := os.ReadFile(manifestJournal())
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var entries []journalEntry
	if err := json.Unmarshal(data, &entries); err != nil {
		return fmt.Errorf("reading %s: %w", manifestJournal(), err)
	}
	sort.SliceStable(entries, func(i, j int) bool { return !entries[i].MediaType.IsIndex() && entries[j].MediaType.IsIndex() })
	restored := map[string]bool{} // manifest digests put back
	for _, e := range entries {
		if !complete(e, restored) {
			continue // its image is built and pushed again when needed
		}
		tag, err := name.NewTag(RegistryAddr+"/"+e.Repo+":"+e.Tag, name.Insecure)
		if err != nil {
			return err
		}
		if err := remote.Put(tag, rawManifest{e.MediaType, e.Manifest}, remote.WithContext(ctx)); err != nil {
			return fmt.Errorf("restoring %s: %w", tag, err)
		}
		h, _, _ := v1.SHA256(bytes.NewReader(e.Manifest))
		restored[h.String()] = true
	}
	return nil
}

// complete reports whether everything a journal entry refers to is there:
// an image's config and layers in the blob directory, an index's manifests
// among those restored. A journal that lists an image whose blobs are gone
// (a cache cleaned by hand, or one cache's journal over another's) would
// otherwise serve manifests that no pull can complete.
func complete(e journalEntry, restored map[string]bool) bool {
	if e.MediaType.IsIndex() {
		idx, err := v1.ParseIndexManifest(bytes.NewReader(e.Manifest))
		if err != nil {
			return false
		}
		for _, m := range idx.Manifests {
			if !restored[m.Digest.String()] {
				return false
			}
		}
		return true
	}
	m, err := v1.ParseManifest(bytes.NewReader(e.Manifest))
	if err != nil {
		return false
	}
	for _, d := range append([]v1.Descriptor{m.Config}, m.Layers...) {
		if _, err := os.Stat(filepath.Join(registryDir(), "blobs", d.Digest.Algorithm, d.Digest.Hex)); err != nil {
			return false
		}
	}
	return true
}

type rawManifest struct {
	mediaType types.MediaType
	data      []byte
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.data, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mediaType, nil }
