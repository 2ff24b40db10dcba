package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"text/tabwriter"
)

const keySynopsis = `Manage the API keys of a running server: named, scoped keys, stored as
hashes, each shown once when it is made or rotated.

  hookbridge key create --name NAME --scope admin|read-only|ingest|inbound|app:APP
  hookbridge key list
  hookbridge key rotate ID
  hookbridge key revoke ID

Scopes: admin (everything), read-only (every read, no write), ingest (create
messages in any application), inbound (the inbound sources), app:APP (one
application, by id or uid: what its portal token may do, and sending its
messages). Every subcommand takes --url (the server, default http://` + defaultAddr + `;
env HOOKBRIDGE_URL) and --api-key (the admin key, or an admin-scoped API key;
env HOOKBRIDGE_API_KEY). Flags may come before or after the arguments (ID);
-- ends the flags. create and rotate print the key with the new secret in
"key": keep it now, it is not shown again. A rotated or revoked key is
refused at once by the server that was asked, and within seconds by every
other instance.`

const keyAdminUsage = "the server-wide admin key, or an admin-scoped API key"

// runKey dispatches to a key subcommand.
func runKey(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runSub(ctx, keySynopsis, []command{
		{name: "create", run: runKeyCreate},
		{name: "list", run: runKeyList},
		{name: "rotate", run: runKeyRotate},
		{name: "revoke", run: runKeyRevoke},
	}, args, stdout, stderr)
}

func runKeyCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c apiClient
	var name, scope string
	fs := newFlagSet("key create", "Make an API key and print it, with the key itself, shown this once.", stderr)
	c.register(fs, keyAdminUsage)
	fs.String(&name, "name", "", "who or what the key is for; recorded as the actor of the changes made with it")
	fs.String(&scope, "scope", "", "admin, read-only, ingest, inbound or app:APP (an application's id or uid)")
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	if name == "" || scope == "" {
		return usageError("--name and --scope are required: hookbridge key create --name NAME --scope SCOPE")
	}
	var out map[string]any
	if err := c.do(ctx, http.MethodPost, "/api/v1/api-key", map[string]string{"name": name, "scope": scope}, &out); err != nil {
		return err
	}
	return printJSON(stdout, out)
}

func runKeyList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c apiClient
	fs := newFlagSet("key list", "List the API keys (never the keys themselves).", stderr)
	c.register(fs, keyAdminUsage)
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSCOPE\tLAST USED\tNAME")
	iterator := ""
	for {
		var page struct {
			Data []struct {
				ID         string  `json:"id"`
				Name       string  `json:"name"`
				Scope      string  `json:"scope"`
				LastUsedAt *string `json:"lastUsedAt"`
			} `json:"data"`
			Iterator *string `json:"iterator"`
			Done     bool    `json:"done"`
		}
		path := "/api/v1/api-key?limit=250"
		if iterator != "" {
			path += "&iterator=" + url.QueryEscape(iterator)
		}
		if err := c.do(ctx, http.MethodGet, path, nil, &page); err != nil {
			return err
		}
		for _, k := range page.Data {
			used := "never"
			if k.LastUsedAt != nil {
				used = *k.LastUsedAt
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.ID, k.Scope, used, k.Name)
		}
		if page.Done || page.Iterator == nil {
			break
		}
		iterator = *page.Iterator
	}
	return tw.Flush()
}

func runKeyRotate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, id, err := keyByID("rotate", "Give an API key a new secret and print it, shown this once; the old one stops working.", args, stderr)
	if err != nil {
		return err
	}
	var out map[string]any
	if err := c.do(ctx, http.MethodPost, "/api/v1/api-key/"+url.PathEscape(id)+"/rotate", nil, &out); err != nil {
		return err
	}
	return printJSON(stdout, out)
}

func runKeyRevoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, id, err := keyByID("revoke", "Revoke an API key, for good.", args, stderr)
	if err != nil {
		return err
	}
	if err := c.do(ctx, http.MethodDelete, "/api/v1/api-key/"+url.PathEscape(id), nil, nil); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "revoked %s\n", id)
	return nil
}

// keyByID parses the arguments of `key verb ID`: the client flags and the
// key's id, which is required.
func keyByID(verb, help string, args []string, stderr io.Writer) (*apiClient, string, error) {
	var c apiClient
	var id string
	fs := newFlagSet("key "+verb, help, stderr)
	fs.operands = "ID"
	c.register(fs, keyAdminUsage)
	if err := fs.parse(args, &id); err != nil {
		return nil, "", err
	}
	if err := c.check(); err != nil {
		return nil, "", err
	}
	if id == "" {
		return nil, "", usageError("the key id is required: hookbridge key %s ID", verb)
	}
	return &c, id, nil
}
