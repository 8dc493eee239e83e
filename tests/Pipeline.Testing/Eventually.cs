using System.Diagnostics;

namespace Pipeline.Testing;

/// <summary>Awaits a condition instead of sleeping: polls until it holds or the timeout ends with a message that says what was awaited.</summary>
public static class Eventually
{
    public static async Task<T> GetAsync<T>(Func<Task<T?>> probe, TimeSpan timeout, string what, TimeSpan? interval = null)
        where T : class
    {
        var clock = Stopwatch.StartNew();
        Exception? last = null;
        while (true)
        {
            try
            {
                if (await probe().ConfigureAwait(false) is { } value)
                {
                    return value;
                }
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                last = ex;
            }

            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0.#} s waiting for {what}." + (last is null ? "" : $" Last error: {last.Message}"), last);
            }

            await Task.Delay(interval ?? TimeSpan.FromMilliseconds(20)).ConfigureAwait(false);
        }
    }

    public static async Task TrueAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, TimeSpan? interval = null) =>
        await GetAsync<object>(async () => await condition().ConfigureAwait(false) ? new object() : null, timeout, what, interval).ConfigureAwait(false);
}
