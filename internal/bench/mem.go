package bench

import (
	"bufio"
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// memStatus is a process's resident memory as /proc/PID/status reports it.
type memStatus struct {
	RSS, HWM int64 // VmRSS and VmHWM (peak RSS), bytes
}

// readMem reads /proc/PID/status.
func readMem(pid int) (memStatus, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return memStatus{}, err
	}
	defer f.Close()
	var m memStatus
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(fields[0], 10, 64)
		switch k {
		case "VmRSS":
			m.RSS = n << 10
		case "VmHWM":
			m.HWM = n << 10
		}
	}
	return m, sc.Err()
}

// resetPeak resets the process's peak RSS (VmHWM) to its current RSS
// (writing 5 to /proc/PID/clear_refs, Linux ≥ 4.0), so a later VmHWM is the
// peak of what happened since. It reports whether the kernel allowed it.
func resetPeak(pid int) bool {
	return os.WriteFile("/proc/"+strconv.Itoa(pid)+"/clear_refs", []byte("5"), 0) == nil
}

// peakWatch measures how far a process's resident memory rises above
// where it stood when the watch began: it resets the kernel's peak
// (resetPeak) and also samples VmRSS every 10 ms, in case the kernel
// refused the reset; the growth is the larger peak minus the start.
type peakWatch struct {
	pid     int
	start   int64
	reset   bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	sampled int64
}

func watchPeak(pid int) (*peakWatch, error) {
	m, err := readMem(pid)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &peakWatch{pid: pid, start: m.RSS, reset: resetPeak(pid), cancel: cancel, sampled: m.RSS}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if m, err := readMem(pid); err == nil {
					w.sampled = max(w.sampled, m.RSS)
				}
			}
		}
	}()
	return w, nil
}

// growth stops the watch and returns the peak's rise above the start, in
// bytes, and how it was measured.
func (w *peakWatch) growth() (int64, string) {
	w.cancel()
	w.wg.Wait()
	peak, how := w.sampled, "VmRSS sampled every 10 ms"
	if w.reset {
		if m, err := readMem(w.pid); err == nil && m.HWM > peak {
			peak = m.HWM
		}
		how = "VmHWM after clear_refs, and VmRSS sampled every 10 ms"
	}
	return max(peak-w.start, 0), how
}
