using Pipeline.Inventory.Commit;

namespace Pipeline.Inventory.Status;

/// <summary>What the database holds for the <c>status</c> verb: how many orders are in each status (ordered by name), and
/// every fence row.</summary>
public sealed record InventoryStatus(IReadOnlyDictionary<string, long> OrdersByStatus, IReadOnlyList<FenceRow> Fences);
