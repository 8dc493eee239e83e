namespace Pipeline.Inventory.Commit;

/// <summary>Settings of the <see cref="FencedCommitter"/>.</summary>
public sealed class FencedCommitterOptions
{
    /// <summary>The fenced resource (a row of leader_fence).</summary>
    public string Resource { get; set; } = Model.FenceResources.InventoryCommit;

    /// <summary>Postgres ends a transaction left idle this long (a paused ex-leader) and frees its locks. Keep it below the
    /// ZooKeeper session timeout, so a frozen leader never holds the fence row longer than its leadership could last.</summary>
    public TimeSpan IdleInTransactionTimeout { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>Upper bound of any statement of a commit.</summary>
    public TimeSpan StatementTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a commit waits for the fence row or stock rows before giving up (and the caller retries).</summary>
    public TimeSpan LockTimeout { get; set; } = TimeSpan.FromSeconds(2);

    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Resource))
        {
            throw new ArgumentException("FencedCommitter Resource is required.", nameof(Resource));
        }

        foreach (var (value, name) in new[] { (IdleInTransactionTimeout, nameof(IdleInTransactionTimeout)), (StatementTimeout, nameof(StatementTimeout)), (LockTimeout, nameof(LockTimeout)) })
        {
            if (value <= TimeSpan.Zero)
            {
                throw new ArgumentException($"FencedCommitter {name} must be positive.", name);
            }
        }
    }
}
