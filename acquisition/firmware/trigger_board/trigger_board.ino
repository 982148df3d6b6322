// Trigger board firmware, protocol version 1 (docs/trigger_protocol.md).
//
// Target: ATmega328P at 16 MHz (Arduino Uno, Arduino Nano). Output: D9 (OC1A), 5 V logic:
// see README.md before wiring it to a radar's SYNC_IN or a camera.
//
// Edges are made by Timer1 hardware (fast PWM, mode 14, TOP = ICR1): the pin goes high at BOTTOM
// and low at the OCR1A match, so period and width have no software jitter. A compare-B
// interrupt at BOTTOM (OCR1B = 0) time-stamps each edge with the 64-bit extension of micros(),
// corrected by the timer ticks elapsed since the edge, and queues a report for loop() to print.
//
// Timer resolution: the prescaler is the smallest that fits the period in 16 bits:
//   period <= 4.096 ms: 1/16 us ticks; <= 32.768 ms: 0.5 us; <= 262.144 ms: 4 us;
//   <= 1.048576 s: 16 us; <= 4 s: 64 us. Periods and widths are rounded to the tick and the
// OK/S lines give the effective values in whole microseconds.
//
// Serial bandwidth: 115200 baud carries about 11500 characters/s, i.e. about 350 "P" reports per
// second; above that, reports are dropped (counted in S "dropped") while the edges stay exact.

#include <Arduino.h>
#include <stdlib.h>
#include <string.h>
#include <util/atomic.h>

#if !defined(__AVR_ATmega328P__)
#error "This sketch drives ATmega328P Timer1 registers (Arduino Uno/Nano); port it for other MCUs."
#endif

static const uint8_t PROTOCOL_VERSION = 1;
static const char FIRMWARE_ID[] = "trigger_board/1.0.0";
static const char BOARD_NAME[] = "atmega328p";
static const uint8_t OUTPUT_PIN = 9;   // OC1A; hard-wired to Timer1, do not change
static const uint8_t RUN_LED_PIN = 13; // on while RUNNING
static const uint32_t BAUD = 115200;
static const uint8_t MAX_COMMAND = 80;
static const uint32_t MIN_PERIOD_US = 1000;
static const uint32_t MAX_PERIOD_US = 4000000UL;
static const uint32_t MIN_WIDTH_US = 1;
static const uint32_t MAX_WIDTH_US = 1000000UL;
static const uint32_t START_LEAD_US = 1000;
static const uint32_t LATE_US = 100; // time-stamp later than this after the edge counts as late

enum ErrorCode : uint8_t {
  UNKNOWN_COMMAND = 1,
  BAD_CHECKSUM = 2,
  BAD_ARGUMENT = 3,
  BAD_STATE = 4,
  LINE_TOO_LONG = 5,
  OUT_OF_RANGE = 6,
};

enum State : uint8_t { IDLE, ARMED, RUNNING };
static const char *const STATE_NAMES[] = {"IDLE", "ARMED", "RUNNING"};

// --- configuration (changed only while IDLE) ----------------------------------------------------
static uint32_t period_us = 100000;
static uint32_t width_us = 1000;
static uint16_t prescaler = 64;
static uint8_t clock_select = 3; // CS12:0 bits for `prescaler`
static uint16_t period_ticks = 25000;
static uint16_t width_ticks = 250;

// --- shared with the interrupts -----------------------------------------------------------------
static volatile State state = IDLE;
static volatile uint32_t pulses = 0;   // edges since ARM == index of the next edge
static volatile uint32_t target = 0;   // 0: unlimited
static volatile uint32_t dropped = 0;  // reports that found the queue full
static volatile uint32_t late = 0;     // edges time-stamped later than LATE_US
static volatile bool run_done = false; // counted run finished (set by the COMPA interrupt)

struct Report {
  uint32_t index;
  uint64_t t_us;
};
static const uint8_t QUEUE_SIZE = 16; // power of two
static volatile Report queue_items[QUEUE_SIZE];
static volatile uint8_t queue_head = 0; // written by the ISR
static volatile uint8_t queue_tail = 0; // written by loop()

// --- 64-bit microsecond clock -------------------------------------------------------------------
static uint32_t micros_last = 0;
static uint32_t micros_high = 0;

// Call with interrupts disabled (or from an ISR); loop() calls it often enough (every < 71 min).
static uint64_t micros64_unsafe() {
  uint32_t now = micros();
  if (now < micros_last) {
    micros_high++;
  }
  micros_last = now;
  return ((uint64_t)micros_high << 32) | now;
}

static uint64_t micros64() {
  uint64_t t;
  ATOMIC_BLOCK(ATOMIC_RESTORESTATE) { t = micros64_unsafe(); }
  return t;
}

// --- CRC-8/SMBUS (poly 0x07, init 0) ------------------------------------------------------------
static uint8_t crc8(const char *data, size_t n) {
  uint8_t crc = 0;
  for (size_t i = 0; i < n; i++) {
    crc ^= (uint8_t)data[i];
    for (uint8_t b = 0; b < 8; b++) {
      crc = (crc & 0x80) ? (uint8_t)((crc << 1) ^ 0x07) : (uint8_t)(crc << 1);
    }
  }
  return crc;
}

// --- output lines -------------------------------------------------------------------------------
static char out_line[176];
static size_t out_len = 0;

static void out_begin() { out_len = 0; }

static void out_str(const char *s) {
  while (*s && out_len < sizeof(out_line) - 5) {
    out_line[out_len++] = *s++;
  }
}

static void out_u64(uint64_t v) {
  char digits[21];
  uint8_t n = 0;
  do {
    digits[n++] = (char)('0' + (uint8_t)(v % 10));
    v /= 10;
  } while (v);
  while (n && out_len < sizeof(out_line) - 5) {
    out_line[out_len++] = digits[--n];
  }
}

static void out_kv(const char *key, uint64_t value) {
  out_str(" ");
  out_str(key);
  out_str("=");
  out_u64(value);
}

// Appends "*HH\n" and writes the line (blocking while the serial buffer is full).
static void out_send() {
  static const char HEX_DIGITS[] = "0123456789ABCDEF";
  uint8_t crc = crc8(out_line, out_len);
  out_line[out_len++] = '*';
  out_line[out_len++] = HEX_DIGITS[crc >> 4];
  out_line[out_len++] = HEX_DIGITS[crc & 0x0F];
  out_line[out_len++] = '\n';
  Serial.write((const uint8_t *)out_line, out_len);
}

// Prints queued P reports with index < limit (all when limit is UINT32_MAX). `blocking`: wait for
// serial buffer space; otherwise stop at the first report that does not fit.
static void flush_reports(uint32_t limit, bool blocking) {
  while (queue_tail != queue_head) {
    Report r;
    r.index = queue_items[queue_tail].index;
    r.t_us = queue_items[queue_tail].t_us;
    if (r.index >= limit) {
      return;
    }
    out_begin();
    out_str("P ");
    out_u64(r.index);
    out_str(" ");
    out_u64(r.t_us);
    if (!blocking && Serial.availableForWrite() < (int)(out_len + 4)) {
      return;
    }
    out_send();
    queue_tail = (uint8_t)((queue_tail + 1) & (QUEUE_SIZE - 1));
  }
}

static uint32_t ticks_to_us(uint32_t ticks) { return (uint32_t)(((uint64_t)ticks * prescaler) / 16); }

// S line; pending reports of earlier edges go first (protocol ordering guarantee).
static void send_status() {
  uint32_t snapshot_pulses, snapshot_dropped, snapshot_late, snapshot_target;
  ATOMIC_BLOCK(ATOMIC_RESTORESTATE) {
    snapshot_pulses = pulses;
    snapshot_dropped = dropped;
    snapshot_late = late;
    snapshot_target = target;
  }
  flush_reports(snapshot_pulses, true);
  out_begin();
  out_str("S state=");
  out_str(STATE_NAMES[state]);
  out_kv("period_us", period_us);
  out_kv("width_us", width_us);
  out_kv("pulses", snapshot_pulses);
  out_kv("target", snapshot_target);
  out_kv("dropped", snapshot_dropped);
  out_kv("late", snapshot_late);
  out_kv("uptime_us", micros64());
  out_send();
}

static void send_ok_begin(const char *command) {
  flush_reports(UINT32_MAX, true);
  out_begin();
  out_str("OK ");
  out_str(command);
}

static void send_err(uint8_t code, const char *command, const char *text) {
  flush_reports(UINT32_MAX, true);
  out_begin();
  out_str("ERR ");
  out_u64(code);
  out_str(" ");
  out_str(command);
  out_str(" ");
  out_str(text);
  out_send();
}

// --- Timer1 -------------------------------------------------------------------------------------
// Chooses the prescaler for `us` and the effective (tick-rounded) period; false if out of range.
static bool compute_period(uint32_t us, uint16_t *pre, uint8_t *cs, uint16_t *ticks, uint32_t *eff) {
  static const uint16_t PRESCALERS[] = {1, 8, 64, 256, 1024};
  for (uint8_t i = 0; i < 5; i++) {
    uint32_t t = (uint32_t)(((uint64_t)us * 16 + PRESCALERS[i] / 2) / PRESCALERS[i]);
    if (t >= 2 && t <= 65536UL) {
      *pre = PRESCALERS[i];
      *cs = (uint8_t)(i + 1);
      *ticks = (uint16_t)(t - 1); // stored as TOP (= ticks - 1); 65536 ticks -> 65535
      *eff = (uint32_t)(((uint64_t)t * PRESCALERS[i]) / 16);
      return true;
    }
  }
  return false;
}

static uint32_t width_to_ticks(uint32_t us, uint16_t pre) {
  uint32_t t = (uint32_t)(((uint64_t)us * 16 + pre / 2) / pre);
  return t < 1 ? 1 : t;
}

static void timer_stop() {
  TCCR1B = 0;           // clock off
  TIMSK1 = 0;           // no Timer1 interrupts
  TCCR1A = 0;           // OC1A disconnected: the port pin drives
  digitalWrite(OUTPUT_PIN, LOW);
  digitalWrite(RUN_LED_PIN, LOW);
}

static void timer_start() {
  uint32_t lead_ticks = (uint32_t)(((uint64_t)START_LEAD_US * 16) / prescaler);
  uint32_t top = period_ticks; // TOP register value
  ATOMIC_BLOCK(ATOMIC_RESTORESTATE) {
    // Clear the OC1A output latch: force a compare match in normal mode with "clear on match".
    TCCR1B = 0;
    TCCR1A = _BV(COM1A1);
    TCCR1C = _BV(FOC1A);
    // Compare registers written in normal mode take effect at once (PWM modes buffer them).
    ICR1 = (uint16_t)top;
    OCR1A = (uint16_t)(width_ticks - 1);
    OCR1B = 0; // compare B at BOTTOM: the rising edge
    // First BOTTOM after the start lead (or one tick, for periods shorter than the lead).
    TCNT1 = (uint16_t)(lead_ticks > top ? top : top + 1 - lead_ticks);
    // Fast PWM mode 14: WGM13:10 = 1110, non-inverting OC1A (set at BOTTOM, clear at OCR1A).
    TCCR1A = _BV(COM1A1) | _BV(WGM11);
    TIFR1 = 0xFF; // clear stale flags (written 1 = clear)
    TIMSK1 = _BV(OCIE1B);
    TCCR1B = _BV(WGM13) | _BV(WGM12) | clock_select;
  }
  digitalWrite(RUN_LED_PIN, HIGH);
}

// Rising edge (counter at BOTTOM).
ISR(TIMER1_COMPB_vect) {
  uint16_t since_edge = TCNT1;
  uint64_t now = micros64_unsafe();
  // 32-bit arithmetic only: 64-bit division would cost tens of microseconds here.
  uint32_t since_us = ((uint32_t)since_edge * prescaler) >> 4;
  if (since_us > LATE_US) {
    late++;
  }
  uint32_t index = pulses++;
  uint8_t next = (uint8_t)((queue_head + 1) & (QUEUE_SIZE - 1));
  if (next == queue_tail) {
    dropped++; // the edge was made; only its report is lost (the host sees an index gap)
  } else {
    queue_items[queue_head].index = index;
    queue_items[queue_head].t_us = now - since_us;
    queue_head = next;
  }
  uint32_t goal = target;
  if (goal != 0 && pulses >= goal) {
    // Stop after this pulse's falling edge. The A flag is stale from earlier periods: clear it,
    // and stop at once if the (short) pulse already ended while this interrupt was pending.
    TIFR1 = _BV(OCF1A);
    if (TCNT1 >= OCR1A) {
      TCCR1B = 0;
      TIMSK1 = 0;
      TCCR1A = 0;
      run_done = true;
    } else {
      TIMSK1 = _BV(OCIE1A);
    }
  }
}

// Falling edge of the last pulse of a counted run.
ISR(TIMER1_COMPA_vect) {
  TCCR1B = 0;
  TIMSK1 = 0;
  TCCR1A = 0;
  run_done = true;
}

// --- commands -----------------------------------------------------------------------------------
static bool parse_u32(const char *s, uint32_t *out) {
  if (s == NULL || *s == '\0') {
    return false;
  }
  uint64_t v = 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') {
      return false;
    }
    v = v * 10 + (uint8_t)(*s - '0');
    if (v > 0xFFFFFFFFULL) {
      return false;
    }
  }
  *out = (uint32_t)v;
  return true;
}

static void set_period(const char *command, uint32_t us) {
  uint16_t pre, ticks;
  uint8_t cs;
  uint32_t eff;
  if (us < MIN_PERIOD_US || us > MAX_PERIOD_US || !compute_period(us, &pre, &cs, &ticks, &eff) ||
      eff <= width_us) {
    send_err(OUT_OF_RANGE, command, "period out of range");
    return;
  }
  prescaler = pre;
  clock_select = cs;
  period_ticks = ticks;
  period_us = eff;
  uint32_t wt = width_to_ticks(width_us, prescaler);
  width_ticks = (uint16_t)(wt > period_ticks ? period_ticks : wt);
  width_us = ticks_to_us(width_ticks);
  send_ok_begin(command);
  out_kv("period_us", period_us);
  out_send();
}

static void execute(char *line) {
  char *argv[3];
  uint8_t argc = 0;
  for (char *tok = strtok(line, " \t"); tok != NULL && argc < 3; tok = strtok(NULL, " \t")) {
    argv[argc++] = tok;
  }
  if (argc == 0) {
    return; // empty line: flushes a partial line, no answer
  }
  char *cmd = argv[0];
  for (char *c = cmd; *c; c++) {
    if (*c >= 'a' && *c <= 'z') {
      *c = (char)(*c - 'a' + 'A');
    }
  }
  bool needs_idle = !strcmp(cmd, "RATE") || !strcmp(cmd, "PERIOD") || !strcmp(cmd, "WIDTH");
  uint8_t max_args = (needs_idle || !strcmp(cmd, "START")) ? 1 : 0;
  uint8_t min_args = needs_idle ? 1 : 0;
  bool known = needs_idle || !strcmp(cmd, "PING") || !strcmp(cmd, "VERSION") ||
               !strcmp(cmd, "ARM") || !strcmp(cmd, "START") || !strcmp(cmd, "STOP") ||
               !strcmp(cmd, "STATUS");
  if (!known) {
    send_err(UNKNOWN_COMMAND, "?", "unknown command");
    return;
  }
  if (argc - 1 < min_args || argc - 1 > max_args) {
    send_err(BAD_ARGUMENT, cmd, "wrong number of arguments");
    return;
  }
  if (needs_idle && state != IDLE) {
    send_err(BAD_STATE, cmd, "needs IDLE");
    return;
  }
  if (!strcmp(cmd, "PING")) {
    send_ok_begin("PING");
    out_send();
  } else if (!strcmp(cmd, "VERSION")) {
    send_ok_begin("VERSION");
    out_kv("protocol", PROTOCOL_VERSION);
    out_str(" firmware=");
    out_str(FIRMWARE_ID);
    out_str(" board=");
    out_str(BOARD_NAME);
    out_send();
  } else if (!strcmp(cmd, "RATE")) {
    char *end;
    double hz = strtod(argv[1], &end);
    if (*end != '\0' || !(hz > 0.0)) {
      send_err(BAD_ARGUMENT, cmd, "rate must be a positive number");
      return;
    }
    double us = 1e6 / hz + 0.5;
    set_period(cmd, us > 4.2e9 ? 0xFFFFFFFFUL : (uint32_t)us);
  } else if (!strcmp(cmd, "PERIOD")) {
    uint32_t us;
    if (!parse_u32(argv[1], &us)) {
      send_err(BAD_ARGUMENT, cmd, "not an integer");
      return;
    }
    set_period(cmd, us);
  } else if (!strcmp(cmd, "WIDTH")) {
    uint32_t us;
    if (!parse_u32(argv[1], &us)) {
      send_err(BAD_ARGUMENT, cmd, "not an integer");
      return;
    }
    uint32_t wt = width_to_ticks(us, prescaler);
    if (us < MIN_WIDTH_US || us > MAX_WIDTH_US || us >= period_us || wt > period_ticks) {
      send_err(OUT_OF_RANGE, cmd, "width out of range");
      return;
    }
    width_ticks = (uint16_t)wt;
    width_us = ticks_to_us(width_ticks);
    send_ok_begin("WIDTH");
    out_kv("width_us", width_us);
    out_send();
  } else if (!strcmp(cmd, "ARM")) {
    if (state == RUNNING) {
      send_err(BAD_STATE, cmd, "ARM while RUNNING");
      return;
    }
    ATOMIC_BLOCK(ATOMIC_RESTORESTATE) {
      pulses = 0;
      target = 0;
      dropped = 0;
      late = 0;
      queue_head = queue_tail = 0;
      run_done = false;
    }
    state = ARMED;
    send_ok_begin("ARM");
    out_send();
  } else if (!strcmp(cmd, "START")) {
    uint32_t count = 0;
    if (argc == 2 && !parse_u32(argv[1], &count)) {
      send_err(BAD_ARGUMENT, cmd, "not an integer");
      return;
    }
    if (state != ARMED) {
      send_err(BAD_STATE, cmd, "START needs ARMED");
      return;
    }
    target = count;
    send_ok_begin("START");
    out_kv("count", count);
    out_send();
    Serial.flush(); // the answer leaves before the first P report
    state = RUNNING;
    timer_start();
  } else if (!strcmp(cmd, "STOP")) {
    timer_stop();
    state = IDLE;
    uint32_t fired;
    ATOMIC_BLOCK(ATOMIC_RESTORESTATE) { fired = pulses; }
    send_ok_begin("STOP");
    out_kv("pulses", fired);
    out_send();
  } else if (!strcmp(cmd, "STATUS")) {
    send_status();
    send_ok_begin("STATUS");
    out_send();
  }
}

// Verifies and strips an optional "*HH" checksum; false when present and wrong.
static bool check_line(char *line) {
  char *star = strrchr(line, '*');
  if (star == NULL) {
    return true;
  }
  size_t n = (size_t)(star - line);
  if (strlen(star + 1) != 2) {
    return false;
  }
  char *end;
  long expected = strtol(star + 1, &end, 16);
  if (*end != '\0' || expected != crc8(line, n)) {
    return false;
  }
  *star = '\0';
  return true;
}

static char in_line[MAX_COMMAND + 4];
static uint8_t in_len = 0;
static bool in_overflow = false;

static void handle_input() {
  while (Serial.available() > 0) {
    char c = (char)Serial.read();
    if (c == '\n' || c == '\r') {
      if (in_overflow) {
        send_err(LINE_TOO_LONG, "?", "line too long");
      } else {
        in_line[in_len] = '\0';
        if (!check_line(in_line)) {
          send_err(BAD_CHECKSUM, "?", "bad checksum");
        } else {
          execute(in_line);
        }
      }
      in_len = 0;
      in_overflow = false;
    } else if (in_len < sizeof(in_line) - 1) {
      in_line[in_len++] = c;
    } else {
      in_overflow = true;
    }
  }
}

void setup() {
  pinMode(OUTPUT_PIN, OUTPUT);
  pinMode(RUN_LED_PIN, OUTPUT);
  timer_stop();
  Serial.begin(BAUD);
  send_status(); // boot banner: the host learns the board (re)started
}

void loop() {
  micros64(); // keeps the 32-bit wrap of micros() counted
  if (run_done) {
    run_done = false;
    state = IDLE;
    digitalWrite(OUTPUT_PIN, LOW);
    digitalWrite(RUN_LED_PIN, LOW);
    send_status(); // end of a counted run
  }
  flush_reports(UINT32_MAX, false);
  handle_input();
}
