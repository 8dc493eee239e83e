using System.Collections.Concurrent;
using Pipeline.Contracts;

namespace Pipeline.Testing;

/// <summary>Decision events by order id, in arrival order (redeliveries can make several per order), and apart from them the
/// OrderIdConflict notices, which are no decision of the order recorded under their id.</summary>
public sealed class EventRecorder
{
    private readonly ConcurrentDictionary<string, ConcurrentQueue<object>> byOrder = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ConcurrentQueue<OrderIdConflict>> conflicts = new(StringComparer.Ordinal);

    public int Count => byOrder.Values.Sum(q => q.Count);

    public IReadOnlyList<object> For(string orderId) => byOrder.TryGetValue(orderId, out var events) ? [.. events] : [];

    /// <summary>The OrderIdConflict notices for <paramref name="orderId"/>: refused submissions that reused it.</summary>
    public IReadOnlyList<OrderIdConflict> ConflictsFor(string orderId) => conflicts.TryGetValue(orderId, out var found) ? [.. found] : [];

    public Task Add(string orderId, object message)
    {
        byOrder.GetOrAdd(orderId, _ => new ConcurrentQueue<object>()).Enqueue(message);
        return Task.CompletedTask;
    }

    public Task AddConflict(OrderIdConflict conflict)
    {
        ArgumentNullException.ThrowIfNull(conflict);
        conflicts.GetOrAdd(conflict.OrderId, _ => new ConcurrentQueue<OrderIdConflict>()).Enqueue(conflict);
        return Task.CompletedTask;
    }

    /// <summary>Waits until every id has at least one decision event.</summary>
    public async Task WaitForAllAsync(IReadOnlyCollection<string> orderIds, TimeSpan timeout)
    {
        var missing = orderIds.ToList();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while ((missing = [.. missing.Where(id => !byOrder.ContainsKey(id))]).Count > 0)
        {
            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0} s waiting for a decision event for each of {orderIds.Count} orders: " +
                                           $"{missing.Count} still have none, e.g. {string.Join(", ", missing.Take(5))}");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>Waits for an event of <paramref name="orderId"/> that satisfies <paramref name="match"/>.</summary>
    public async Task<T> WaitForAsync<T>(string orderId, Func<T, bool> match, TimeSpan timeout)
        where T : class
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            if (For(orderId).OfType<T>().FirstOrDefault(match) is { } found)
            {
                return found;
            }

            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0} s waiting for a matching {typeof(T).Name} for {orderId}; seen: [{string.Join("; ", For(orderId))}]");
            }

            await Task.Delay(50);
        }
    }
}
