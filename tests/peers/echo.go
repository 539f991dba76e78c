// A Go net/http server, the upstream for client_peers_test: prints "listening on PORT", then
// serves /plain ("x"), /echo (the request body back) and /stream (chunked, flushed per piece).
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
)

func main() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/plain", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "x") })
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	})
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		f := w.(http.Flusher)
		for i := 0; i < 100; i++ {
			fmt.Fprintf(w, "piece %d;", i)
			f.Flush()
		}
	})
	fmt.Printf("listening on %d\n", ln.Addr().(*net.TCPAddr).Port)
	http.Serve(ln, mux)
}
