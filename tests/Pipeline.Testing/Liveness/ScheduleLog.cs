using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;

namespace Pipeline.Testing.Liveness;

/// <summary>What happened during one schedule, in order, with milliseconds since its start: faults, actions, state
/// changes and the candidates' own log lines. Printed when the schedule fails, so the failure explains itself.</summary>
public sealed class ScheduleLog(long start) : ILoggerFactory
{
    private readonly ConcurrentQueue<string> lines = new();

    public void Add(string line) =>
        lines.Enqueue(string.Create(CultureInfo.InvariantCulture, $"{Stopwatch.GetElapsedTime(start).TotalMilliseconds,8:0.0} ms  {line}"));

    /// <summary>The last <paramref name="max"/> lines.</summary>
    public IReadOnlyList<string> Tail(int max)
    {
        var all = lines.ToArray();
        return all.Length <= max ? all : [$"... {all.Length - max} earlier lines", .. all[^max..]];
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName[(categoryName.LastIndexOf('.') + 1)..]);

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    private sealed class Logger(ScheduleLog log, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                log.Add($"[{category} {logLevel}] {formatter(state, exception)}{(exception is null ? "" : $" ({exception.GetType().Name}: {exception.Message})")}");
            }
        }
    }
}
