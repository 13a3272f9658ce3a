package gemm

import (
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

// kernel describes one micro-kernel and the cache blocking that suits it.
// fn computes one mr×nr tile of C (mr ≤ kernel.mr, nr ≤ kernel.nr) from a
// packed MR-row panel of op(A) and a packed NR-column panel of op(B), both kc
// steps deep; see kernel_amd64.s for the exact contract.
type kernel struct {
	name   string
	mr, nr int // register tile of C
	kc     int // depth of a packed block (A micro-panel MR×KC stays in L1)
	mc     int // rows of op(A) packed at once (MC×KC block, L2/L3)
	nc     int // columns of op(B) packed at once (KC×NC block, L2)
	fn     func(kc int, a, b, c *float32, ldc int, alpha, beta float32, mr, nr, loadC int)
}

// threads is the SetThreads setting; 0 means runtime.GOMAXPROCS(0).
var threads atomic.Int64

// SetThreads sets how many goroutines one Sgemm call may use and returns the
// previous setting. n <= 0 restores the default, runtime.GOMAXPROCS(0) read
// at each call. Results are bit-identical for any setting (work is split over
// rows and columns of C, never over k), so the setting changes only speed.
// It is safe for concurrent use and affects calls that start afterwards.
func SetThreads(n int) int {
	if n < 0 {
		n = 0
	}
	return int(threads.Swap(int64(n)))
}

// Threads reports how many goroutines an Sgemm call may use now.
func Threads() int {
	if n := int(threads.Load()); n > 0 {
		return n
	}
	return runtime.GOMAXPROCS(0)
}

// minWorkPerThread is the number of multiply-adds below which one more
// goroutine costs more than it saves (about 10 µs of work at 100 GFLOP/s).
const minWorkPerThread = 1 << 19

// arena holds one goroutine's packing buffers. They are reused across calls
// through arenaPool, so a call allocates nothing once the pool is warm.
type arena struct {
	a, b []float32
}

var arenaPool arenaList

// arenaList is a LIFO free list of arenas. Unlike a sync.Pool it never
// drops an arena (at a GC) and any goroutine gets any free arena (a
// sync.Pool's per-P private slot cannot be taken from another P), so once
// it holds as many arenas as products ever run at once, each sized by the
// largest product, no call allocates. It holds at most that many.
type arenaList struct {
	mu   sync.Mutex
	free []*arena
}

// Get returns a free arena, or a new one.
func (l *arenaList) Get() *arena {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(l.free); n > 0 {
		ar := l.free[n-1]
		l.free = l.free[:n-1]
		return ar
	}
	return new(arena)
}

// Put gives ar back.
func (l *arenaList) Put(ar *arena) {
	l.mu.Lock()
	l.free = append(l.free, ar)
	l.mu.Unlock()
}

// reserve makes ar.a and ar.b na and nb floats long, reusing their storage
// when it is large enough.
func (ar *arena) reserve(na, nb int) {
	if cap(ar.a) < na {
		ar.a = make([]float32, na)
	}
	if cap(ar.b) < nb {
		ar.b = make([]float32, nb)
	}
	ar.a, ar.b = ar.a[:na], ar.b[:nb]
}

func roundUp(x, m int) int { return (x + m - 1) / m * m }

// params is one (sub-)problem: C[0:m, 0:n] of the call, with a, b, c already
// offset to the sub-problem's first row/column.
type params struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a              []float32
	lda            int
	b              []float32
	ldb            int
	c              []float32
	ldc            int
}

// job is one parallel call: its sub-problems (blocks of C) and the
// goroutines working through them. Jobs are pooled so that a call allocates
// nothing in steady state.
type job struct {
	kern   *kernel
	blocks []params
	next   atomic.Int64 // index of the next block to take
	wg     sync.WaitGroup
}

var jobPool = sync.Pool{New: func() any { return new(job) }}

// run takes blocks until none is left. Which goroutine computes a block does
// not change its result.
func (j *job) run() {
	for {
		i := int(j.next.Add(1)) - 1
		if i >= len(j.blocks) {
			return
		}
		j.kern.serial(&j.blocks[i])
	}
}

// queue hands jobs to worker goroutines. Each worker is started for one
// job and exits when the job has no blocks left, so no goroutine outlives
// the Sgemm call that started it (tests that count goroutines stay exact).
// A worker may serve another concurrent call; each job has its own
// WaitGroup.
var queue = make(chan *job, 1024)

func worker() {
	j := <-queue
	j.run()
	j.wg.Done()
}

// native runs C = alpha·op(A)·op(B) + beta·C with kernel kern on up to nt
// goroutines. Arguments are already checked.
func native(kern *kernel, nt int, p params) {
	if p.m == 0 || p.n == 0 {
		return
	}
	if p.k == 0 || p.alpha == 0 {
		scaleC(p.m, p.n, p.beta, p.c, p.ldc)
		return
	}
	work := p.m * p.n * p.k
	if w := work / minWorkPerThread; w < nt {
		nt = max(w, 1)
	}
	if nt <= 1 {
		kern.serial(&p)
		return
	}
	tm := (p.m + kern.mr - 1) / kern.mr // tiles along M
	tn := (p.n + kern.nr - 1) / kern.nr // tiles along N
	pm, pn := grid(nt, tm, tn, p.k, kern)
	// Oversplit into up to 4 blocks per goroutine, taken dynamically, so
	// that a goroutine delayed by a busy machine does not hold up the call,
	// unless the extra packing (every block packs its own rows of A and
	// columns of B) would cost more than 5% of the multiply-adds.
	packed := func(pm, pn int) int { return packWeight * (pn*p.m + pm*p.n) * p.k }
	for c := 4; c > 1; c /= 2 {
		qm, qn := grid(nt*c, tm, tn, p.k, kern)
		if qm*qn > pm*pn && packed(qm, qn)-packed(pm, pn) <= work/20 {
			pm, pn = qm, qn
			break
		}
	}
	if pm*pn <= 1 {
		kern.serial(&p)
		return
	}
	j := jobPool.Get().(*job)
	j.kern = kern
	j.blocks = j.blocks[:0]
	for r := 0; r < pm; r++ {
		i0, i1 := r*tm/pm*kern.mr, min((r+1)*tm/pm*kern.mr, p.m)
		for s := 0; s < pn; s++ {
			j0, j1 := s*tn/pn*kern.nr, min((s+1)*tn/pn*kern.nr, p.n)
			if i0 >= i1 || j0 >= j1 {
				continue
			}
			q := p
			q.m, q.n = i1-i0, j1-j0
			if p.transA {
				q.a = p.a[i0:]
			} else {
				q.a = p.a[i0*p.lda:]
			}
			if p.transB {
				q.b = p.b[j0*p.ldb:]
			} else {
				q.b = p.b[j0:]
			}
			q.c = p.c[i0*p.ldc+j0:]
			j.blocks = append(j.blocks, q)
		}
	}
	j.next.Store(0)
	workers := min(nt, len(j.blocks)) - 1
	j.wg.Add(workers)
	for i := 0; i < workers; i++ {
		queue <- j
		go worker()
	}
	j.run()
	j.wg.Wait()
	clear(j.blocks) // drop references to the caller's slices
	j.kern = nil
	jobPool.Put(j)
}

// packWeight is the cost of packing one element in multiply-adds (a
// transposing pack moves a float in about 8 FMA slots).
const packWeight = 8

// grid chooses how many blocks to split the tm×tn tiles of C into along M
// (pm) and N (pn), pm·pn ≤ nt, minimising a cost model: the largest block's
// multiply-adds plus its packing (its rows of A and its columns of B).
func grid(nt, tm, tn, k int, kern *kernel) (pm, pn int) {
	pm, pn = 1, 1
	best := -1
	for a := 1; a <= nt; a++ {
		b := nt / a
		if a > tm || b > tn || b == 0 {
			continue
		}
		rows := (tm + a - 1) / a * kern.mr
		cols := (tn + b - 1) / b * kern.nr
		cost := rows*cols*k + packWeight*(rows+cols)*k
		if best < 0 || cost < best {
			best, pm, pn = cost, a, b
		}
	}
	return pm, pn
}

// scaleC sets C = beta·C (C = 0 when beta == 0, without reading C).
func scaleC(m, n int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		if beta == 1 {
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// aWholeMax is the most floats of packed op(A) that serial keeps for a whole
// call (4 MiB), so that A is packed once and not again for every NC block.
const aWholeMax = 1 << 20

// serial runs one (sub-)problem on the calling goroutine: the GotoBLAS/BLIS
// loop nest. For each NC-column block of C and each KC-deep slice of k it
// packs op(B) into NR-column panels (an L2-sized block), then sweeps the
// micro-kernel over the MR×NR tiles, each MR-row panel of packed op(A)
// staying in L1 while the B panels stream past it. op(A) is packed once for
// the whole call when it is small (aWholeMax), otherwise per MC×KC block.
// The KC slices are summed into C in k order (the first applies beta); the
// C block of one NC slice stays in cache across them. The slicing of k
// depends only on k, so each element's result does not depend on how C was
// split between goroutines.
func (kern *kernel) serial(p *params) {
	MR, NR := kern.mr, kern.nr
	// Balanced k slices of at most kern.kc steps, a multiple of 8 where k
	// allows (the transposing packers work in blocks of 8 steps).
	nk := (p.k + kern.kc - 1) / kern.kc
	kcb := min(roundUp((p.k+nk-1)/nk, 8), kern.kc, p.k)
	mp := roundUp(p.m, MR)
	whole := mp*p.k <= aWholeMax
	mcb := mp
	if !whole {
		nb := (p.m + kern.mc - 1) / kern.mc
		mcb = roundUp((p.m+nb-1)/nb, MR)
	}
	ar := arenaPool.Get()
	if whole {
		ar.reserve(mp*p.k, kcb*roundUp(min(kern.nc, p.n), NR))
		for pc, q := 0, 0; pc < p.k; pc, q = pc+kcb, q+1 {
			packA(ar.a[q*mp*kcb:], p.transA, p.a, p.lda, 0, pc, p.m, min(kcb, p.k-pc), MR)
		}
	} else {
		ar.reserve(mcb*kcb, kcb*roundUp(min(kern.nc, p.n), NR))
	}
	// Balanced NC blocks too, so that no thin last block wastes a pass.
	nbn := (p.n + kern.nc - 1) / kern.nc
	ncb := roundUp((p.n+nbn-1)/nbn, NR)
	for jc := 0; jc < p.n; jc += ncb {
		nc := min(ncb, p.n-jc)
		for pc, q := 0, 0; pc < p.k; pc, q = pc+kcb, q+1 {
			kc := min(kcb, p.k-pc)
			packB(ar.b, p.transB, p.b, p.ldb, pc, jc, kc, nc, NR)
			beta, loadC := p.beta, 1
			if pc > 0 {
				beta = 1
			}
			if beta == 0 {
				loadC = 0
			}
			for ic := 0; ic < p.m; ic += mcb {
				mc := min(mcb, p.m-ic)
				var ablk []float32
				if whole {
					ablk = ar.a[q*mp*kcb+ic*kc:]
				} else {
					packA(ar.a, p.transA, p.a, p.lda, ic, pc, mc, kc, MR)
					ablk = ar.a
				}
				for ir := 0; ir < mc; ir += MR {
					mr := min(MR, mc-ir)
					ap := &ablk[ir*kc]
					crow := (ic+ir)*p.ldc + jc
					for jr := 0; jr < nc; jr += NR {
						nr := min(NR, nc-jr)
						kern.fn(kc, ap, &ar.b[jr*kc], &p.c[crow+jr], p.ldc, p.alpha, beta, mr, nr, loadC)
					}
				}
			}
		}
	}
	arenaPool.Put(ar)
}

// packA copies op(A)[i0:i0+mc, p0:p0+kc] into dst as MR-row panels, each kc
// steps of MR floats; rows past mc are zero.
func packA(dst []float32, transA bool, a []float32, lda, i0, p0, mc, kc, MR int) {
	if transA {
		// op(A)[i][p] = a[p*lda+i]: each step is a contiguous run.
		packSteps(dst, a[p0*lda+i0:], lda, MR, mc, kc)
	} else {
		// op(A)[i][p] = a[i*lda+p]: each row is a contiguous run of steps.
		packLanes(dst, a[i0*lda+p0:], lda, MR, mc, kc)
	}
}

// packB copies op(B)[p0:p0+kc, j0:j0+nc] into dst as NR-column panels, each
// kc steps of NR floats; columns past nc are zero.
func packB(dst []float32, transB bool, b []float32, ldb, p0, j0, kc, nc, NR int) {
	if transB {
		// op(B)[p][j] = b[j*ldb+p]: each column is a contiguous run of steps.
		packLanes(dst, b[j0*ldb+p0:], ldb, NR, nc, kc)
	} else {
		// op(B)[p][j] = b[p*ldb+j]: each step is a contiguous run.
		packSteps(dst, b[p0*ldb+j0:], ldb, NR, nc, kc)
	}
}

// packSteps packs n lanes of a matrix stored step-major (lane j of step p at
// src[p*ld+j]) into ceil(n/w) panels of kc steps of w lanes; lanes past n are
// zero.
func packSteps(dst, src []float32, ld, w, n, kc int) {
	if kc == 0 {
		return
	}
	full := n / w
	if full > 0 && !packRowsFull(dst, src, ld, w, kc, full) {
		for q := 0; q < full; q++ {
			copyPanel(dst[q*w*kc:], src[q*w:], ld, w, w, kc)
		}
	}
	if rem := n - full*w; rem > 0 {
		copyPanel(dst[full*w*kc:], src[full*w:], ld, w, rem, kc)
	}
}

// packLanes packs n lanes of a matrix stored lane-major (lane j of step p at
// src[j*ld+p]) into ceil(n/w) panels of kc steps of w lanes; lanes past n are
// zero.
func packLanes(dst, src []float32, ld, w, n, kc int) {
	if kc == 0 {
		return
	}
	for q := 0; q < n; q += w {
		lanes := min(w, n-q)
		d := dst[q*kc : q*kc+w*kc]
		s := src[q*ld:]
		if !transposePack(d, s, ld, lanes, w, kc) {
			for i := 0; i < lanes; i++ {
				for p, v := range s[i*ld : i*ld+kc] {
					d[p*w+i] = v
				}
			}
		}
		for i := lanes; i < w; i++ {
			for p := 0; p < kc; p++ {
				d[p*w+i] = 0
			}
		}
	}
}

// copyPanel writes dst[p*w : p*w+w] = src[p*ld : p*ld+cols] followed by
// w−cols zeros, for p < kc.
func copyPanel(dst, src []float32, ld, w, cols, kc int) {
	for p := 0; p < kc; p++ {
		copy(dst[p*w:p*w+cols], src[p*ld:p*ld+cols])
		clear(dst[p*w+cols : p*w+w])
	}
}

// addr returns the address of s[0] as a *float32 (s must be non-empty).
func addr(s []float32) *float32 { return unsafe.SliceData(s) }
